/** Test entry bundled for Chromium: exposes the sanitiser and the markdown renderer to `page.evaluate`. */
import { MarkdownRenderer, sanitizeHtml } from '../../media/markdown.ts';

const renderer = new MarkdownRenderer();

/** Returns the sanitised HTML of `html`, serialised. */
function sanitizeToString(html: string): string {
  const holder = document.createElement('div');
  holder.append(sanitizeHtml(html));
  return holder.innerHTML;
}

/** Returns the rendered markdown, serialised. */
function renderToString(markdown: string): string {
  const holder = document.createElement('div');
  holder.append(renderer.render(markdown));
  return holder.innerHTML;
}

Object.assign(window, { specexitProbe: { sanitizeToString, renderToString } });
