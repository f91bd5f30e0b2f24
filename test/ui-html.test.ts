import { describe, expect, it } from 'vitest';
import { html, jsonBlock, raw } from '../app/ui/html';

describe('the UI\'s HTML templates', () => {
  it('escape every interpolated value, in text and in attributes, arrays included', () => {
    const name = `"><script>alert('x')</script>&`;
    const out = html`<a title="${name}">${name}</a>${[name, 1]}`.text;
    expect(out).toBe(
      '<a title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</a>&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;1',
    );
    expect(html`${undefined}${null}${false}${0}`.text).toBe('0');
  });

  it('nest templates without escaping them twice; raw is only for the UI\'s own markup', () => {
    expect(html`<p>${html`<b>${'<i>'}</b>`}</p>`.text).toBe('<p><b>&lt;i&gt;</b></p>');
    expect(html`${raw('<br>')}`.text).toBe('<br>');
  });

  it('keep JSON for a script block from ending it or starting markup', () => {
    const block = jsonBlock('data', { note: '</script><script>alert(1)</script>', amp: '&', line: '\u2028' }).text;
    expect(block.match(/<\/script>/g)).toHaveLength(1);
    expect(block).not.toContain('<script>alert');
    const json = block.slice(block.indexOf('>') + 1, block.lastIndexOf('</script>'));
    expect(JSON.parse(json)).toEqual({ note: '</script><script>alert(1)</script>', amp: '&', line: '\u2028' });
  });
});
