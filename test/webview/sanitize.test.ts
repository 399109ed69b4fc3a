import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Page } from 'playwright-core';

import { startWebviewHarness, type WebviewHarness } from './harness.ts';
import { delta, done, init, turnStart } from './host-messages.ts';

/** Model output that would run code or load remote content if it were inserted as HTML. */
const HOSTILE = [
  'Here is a tag: <script>window.__pwned = "script"</script>',
  '',
  'And an image: <img src="x" onerror="window.__pwned = \'onerror\'">',
  '',
  '[click me](javascript:window.__pwned=\'link\')',
  '',
  '[encoded](&#106;avascript:window.__pwned=\'entity\')',
  '',
  '<a href="javascript:window.__pwned=\'raw link\'">raw link</a>',
  '',
  '![remote](http://example.invalid/pixel.png)',
  '',
  '<iframe src="http://example.invalid/frame"></iframe>',
  '',
  '<details open ontoggle="window.__pwned = \'ontoggle\'">x</details>',
  '',
  '[safe](https://example.com/docs)',
].join('\n');

interface ProbeApi {
  sanitizeToString(html: string): string;
  renderToString(markdown: string): string;
}

function sanitize(page: Page, html: string): Promise<string> {
  return page.evaluate((input) => (window as unknown as { specexitProbe: ProbeApi }).specexitProbe.sanitizeToString(input), html);
}

function render(page: Page, markdown: string): Promise<string> {
  return page.evaluate((input) => (window as unknown as { specexitProbe: ProbeApi }).specexitProbe.renderToString(input), markdown);
}

describe('untrusted model output', () => {
  let harness: WebviewHarness;

  before(async () => {
    harness = await startWebviewHarness();
  });

  after(async () => {
    await harness?.close();
  });

  test('hostile answer and thinking render inert', async () => {
    const chat = await harness.openChat();
    await chat.send(init(true), turnStart('t1'), delta('t1', 'thinking', HOSTILE + '\n\n', 0), delta('t1', 'answer', HOSTILE, 10), done('t1', 20));
    await chat.page.waitForSelector('[data-testid=answer] a[href="https://example.com/docs"]');

    const found = await chat.page.evaluate(() => {
      const transcript = document.querySelector('[data-testid=transcript]')!;
      const all = [...transcript.querySelectorAll('*')];
      return {
        pwned: (window as unknown as { __pwned?: string }).__pwned,
        scripts: transcript.querySelectorAll('script').length,
        media: transcript.querySelectorAll('img, iframe, object, embed').length,
        handlers: all.flatMap((element) => [...element.attributes].filter((attribute) => attribute.name.startsWith('on')).map((attribute) => attribute.name)),
        badLinks: [...transcript.querySelectorAll('a[href]')].map((link) => link.getAttribute('href')!).filter((href) => !/^https?:/.test(href)),
        answerText: document.querySelector('[data-testid=answer]')!.textContent,
        thinkingText: document.querySelector('.thinking-text')!.textContent,
      };
    });

    assert.equal(found.pwned, undefined);
    assert.equal(found.scripts, 0);
    assert.equal(found.media, 0);
    assert.deepEqual(found.handlers, []);
    assert.deepEqual(found.badLinks, []);
    for (const text of [found.answerText, found.thinkingText]) {
      assert.match(text ?? '', /<script>window.__pwned = "script"<\/script>/, 'the tag shows as text');
      assert.match(text ?? '', /onerror=/, 'the attribute shows as text');
    }

    await chat.page.getByText('click me').first().click();
    await chat.page.getByText('raw link').first().click();
    await chat.page.getByText('safe').last().click();
    const links = (await chat.posted()).filter((message) => message.type === 'openLink');
    assert.deepEqual(links, [{ type: 'openLink', href: 'https://example.com/docs' }], 'only the https link is sent to the host');
    assert.equal(await chat.page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned), undefined);
    assert.equal(chat.page.url().includes('chat-'), true, 'the page did not navigate');
    assert.deepEqual(chat.foreignRequests, [], 'nothing was loaded from another origin');
    assert.deepEqual(chat.errors, []);
    await chat.page.close();
  });

  test('sanitiser strips active HTML', async () => {
    const page = await harness.openProbe();
    const cases: [string, RegExp][] = [
      ['<script>alert(1)</script><p>kept</p>', /^<p>kept<\/p>$/],
      ['<img src="x" onerror="alert(1)">', /^$/],
      ['<svg onload="alert(1)"><circle></circle></svg>', /^$/],
      ['<a href="javascript:alert(1)">x</a>', /^<a rel="noreferrer noopener">x<\/a>$/],
      ['<a href=" JaVaScRiPt:alert(1)">x</a>', /^<a rel="noreferrer noopener">x<\/a>$/],
      ['<a href="data:text/html,<script>alert(1)</script>">x</a>', /^<a rel="noreferrer noopener">x<\/a>$/],
      ['<a href="vscode:command/workbench.action.quit">x</a>', /^<a rel="noreferrer noopener">x<\/a>$/],
      ['<a href="https://example.com" target="_blank">x</a>', /^<a href="https:\/\/example.com" rel="noreferrer noopener">x<\/a>$/],
      ['<p style="position:fixed" onclick="alert(1)" data-code-action="copy">x</p>', /^<p>x<\/p>$/],
      ['<form action="https://example.com"><input name="a"><button>go</button></form>', /^go$/],
      ['<iframe srcdoc="<script>alert(1)</script>"></iframe><style>*{display:none}</style>', /^$/],
    ];
    for (const [input, expected] of cases) assert.match(await sanitize(page, input), expected, input);
    await page.close();
  });

  test('markdown links keep only web targets', async () => {
    const page = await harness.openProbe();
    const cases: [string, string][] = [
      ['[x](javascript:alert(1))', '<p>[x](javascript:alert(1))</p>\n'],
      ['[x](JAVASCRIPT:alert(1))', '<p>[x](JAVASCRIPT:alert(1))</p>\n'],
      ['[x](vbscript:msgbox)', '<p>[x](vbscript:msgbox)</p>\n'],
      ['[x](file:///etc/passwd)', '<p>[x](file:///etc/passwd)</p>\n'],
      ['[x](command:workbench.action.quit)', '<p><a rel="noreferrer noopener">x</a></p>\n'],
      ['![x](https://example.com/a.png)', '<p><a href="https://example.com/a.png" rel="noreferrer noopener">x</a></p>\n'],
      ['<b onmouseover="alert(1)">x</b>', '<p>&lt;b onmouseover="alert(1)"&gt;x&lt;/b&gt;</p>\n'],
      ['see https://example.com', '<p>see <a href="https://example.com" rel="noreferrer noopener">https://example.com</a></p>\n'],
    ];
    for (const [input, expected] of cases) assert.equal(await render(page, input), expected, input);
    await page.close();
  });
});
