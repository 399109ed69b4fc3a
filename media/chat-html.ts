/**
 * The chat webview's HTML page. The extension host and the Chromium tests both build the page here, so the
 * tests run under the same Content Security Policy. It allows no default source and scripts only with the
 * page's nonce. Styles and images come only from the extension's own files, and there is no network access.
 */

export interface ChatPageOptions {
  /** URI of the bundled `chat.js`, as the webview can load it. */
  scriptUri: string;
  /** URI of the bundled `chat.css`. */
  styleUri: string;
  /** The webview's resource origin (`webview.cspSource`). */
  cspSource: string;
  /** A fresh random value per page load, at least 128 bits, in base64 or hex. */
  nonce: string;
  title?: string;
}

export function chatContentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function renderChatHtml(options: ChatPageOptions): string {
  const csp = chatContentSecurityPolicy(options.cspSource, options.nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttribute(options.styleUri)}">
<title>${escapeAttribute(options.title ?? 'SpecExit Chat')}</title>
</head>
<body>
<div id="root"></div>
<script nonce="${escapeAttribute(options.nonce)}" src="${escapeAttribute(options.scriptUri)}"></script>
</body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
