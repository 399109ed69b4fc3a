/**
 * Markdown to sanitised DOM for model output. markdown-it parses with raw HTML disabled, so tags the model
 * writes show as text; DOMPurify then cleans the generated HTML as a second barrier. Links keep only http(s)
 * and mailto targets, images become links, and nothing loads remote content.
 */
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import MarkdownIt, { type MarkdownIt as MarkdownItInstance } from 'markdown-it';

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

/** Link schemes an answer may link to. Everything else (javascript:, data:, vscode:, file:) loses its href. */
const ALLOWED_LINK = /^(https?:|mailto:)/i;

/** Tags removed with their content: anything that runs code, loads content, takes input or escapes the layout. */
const FORBIDDEN_TAGS = [
  'script', 'style', 'img', 'picture', 'source', 'video', 'audio', 'iframe', 'frame', 'object', 'embed',
  'form', 'input', 'button', 'textarea', 'select', 'option', 'svg', 'math', 'link', 'meta', 'base', 'template',
];
const FORBIDDEN_ATTRIBUTES = ['style', 'srcset', 'src', 'action', 'formaction', 'background', 'poster', 'id', 'name'];

const purifier = DOMPurify(window);
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName !== 'A') return;
  const href = node.getAttribute('href');
  if (href === null || !ALLOWED_LINK.test(href.trim())) node.removeAttribute('href');
  node.removeAttribute('target');
  node.setAttribute('rel', 'noreferrer noopener');
});

/** Returns a DOM fragment of `html` with every active or remote part removed. */
export function sanitizeHtml(html: string): DocumentFragment {
  return purifier.sanitize(html, {
    FORBID_TAGS: FORBIDDEN_TAGS,
    FORBID_ATTR: FORBIDDEN_ATTRIBUTES,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    ALLOW_UNKNOWN_PROTOCOLS: false,
    RETURN_DOM_FRAGMENT: true,
  });
}

/** Options of one render. */
export interface RenderOptions {
  /** Skip syntax highlighting, for a code block that is still streaming and would be re-highlighted each frame. */
  plainCode?: boolean;
}

/** A markdown-it instance configured for model output. */
export class MarkdownRenderer {
  private readonly md: MarkdownItInstance;
  private plainCode = false;

  constructor() {
    this.md = new MarkdownIt({
      html: false,
      linkify: true,
      breaks: false,
      highlight: (code, language) => this.highlight(code, language),
    });
    this.md.renderer.rules.image = (tokens, index) => {
      const token = tokens[index]!;
      const href = this.md.utils.escapeHtml(String(token.attrGet('src') ?? ''));
      const label = this.md.utils.escapeHtml(token.content || href);
      return `<a href="${href}">${label}</a>`;
    };
  }

  /** Renders `markdown` to a sanitised fragment. */
  render(markdown: string, options: RenderOptions = {}): DocumentFragment {
    this.plainCode = options.plainCode ?? false;
    try {
      return sanitizeHtml(this.md.render(markdown));
    } finally {
      this.plainCode = false;
    }
  }

  private highlight(code: string, language: string): string {
    if (this.plainCode) return '';
    const name = language.trim().toLowerCase();
    try {
      if (name && hljs.getLanguage(name)) return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
      if (!name && code.length <= AUTO_DETECT_MAX_CHARS) return hljs.highlightAuto(code).value;
    } catch {
      // highlight.js throws only on an internal grammar error: show the code unhighlighted.
    }
    return '';
  }
}

/** Code blocks without a language are auto-detected only up to this size, because detection tries every grammar. */
const AUTO_DETECT_MAX_CHARS = 4000;
