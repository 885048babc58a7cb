/** Mail helpers of the studio (pure; tested in words.test.ts). */

/**
 * A mail's HTML made safe to look at: the open pixel removed and tracked links disarmed, so
 * previewing never counts as an open or a click; remote content limited by a CSP as well.
 */
export function withoutTracking(html: string): string {
  const stripped = html
    .replace(/<img\b[^>]*\/t\/o\/[^>]*>/gi, "")
    .replace(/(href\s*=\s*["'])[^"']*\/t\/c\/[^"']*(["'])/gi, "$1#tracked-link$2");
  const csp = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: https:; style-src 'unsafe-inline'">`;
  return /<head[^>]*>/i.test(stripped) ? stripped.replace(/<head([^>]*)>/i, `<head$1>${csp}`) : `${csp}${stripped}`;
}

