// CIDR checked as the administrator types it, by the rule accounts applies on save (Python's
// ipaddress.ip_network(strict=True)): an IPv4 or IPv6 address, optionally "/prefix", with the host
// bits zero — "192.0.2.1/24" is refused, since it is a typo more often than not.

/** The 4 bytes of a dotted IPv4 address, or null. Leading zeros are refused (as Python does). */
function ipv4Bytes(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** The 16 bytes of an IPv6 address ("::" compression, a trailing dotted IPv4), or null. */
function ipv6Bytes(s: string): number[] | null {
  if (s.includes("%")) return null; // a zone id is not a network
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (text: string): string[] | null => (text === "" ? [] : text.split(":"));
  const head = groups(halves[0] ?? "");
  const tail = halves.length === 2 ? groups(halves[1] ?? "") : [];
  if (head === null || tail === null) return null;
  const words: number[] = [];
  const all = [...head, ...(halves.length === 2 ? ["::"] : []), ...tail];
  let sawGap = false;
  for (let i = 0; i < all.length; i++) {
    const g = all[i] ?? "";
    if (g === "::") {
      sawGap = true;
      words.push(-1);
      continue;
    }
    if (i === all.length - 1 && g.includes(".")) {
      const v4 = ipv4Bytes(g);
      if (!v4) return null;
      words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const explicit = words.filter((w) => w >= 0).length;
  if (sawGap ? explicit > 7 : explicit !== 8) return null;
  const full: number[] = [];
  for (const w of words) {
    if (w === -1) for (let k = 0; k < 8 - explicit; k++) full.push(0);
    else full.push(w);
  }
  return full.flatMap((w) => [w >> 8, w & 0xff]);
}

export type CidrCheck = { ok: true; normalised: string } | { ok: false; message: string };

/** Whether one allowlist entry is a network accounts will take, with the reason in Japanese if not. */
export function checkCidr(raw: string): CidrCheck {
  const text = raw.trim();
  if (text === "") return { ok: false, message: "入力してください" };
  const slash = text.split("/");
  if (slash.length > 2) return { ok: false, message: "CIDR の形式ではありません（例: 203.0.113.0/24, 2001:db8::/32）" };
  const [addr = "", prefixText] = slash;
  const v4 = ipv4Bytes(addr);
  const bytes = v4 ?? ipv6Bytes(addr);
  if (!bytes) return { ok: false, message: "IPv4 または IPv6 のアドレスとして解釈できません" };
  const bits = bytes.length * 8;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return { ok: false, message: `プレフィックス長は 0〜${bits} で指定してください` };
    }
    prefix = Number(prefixText);
  }
  for (let bit = prefix; bit < bits; bit++) {
    if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) {
      return { ok: false, message: "ホスト部は 0 にしてください（例: 192.0.2.0/24）" };
    }
  }
  return { ok: true, normalised: `${addr.toLowerCase()}/${prefix}` };
}

/** One entry per line (blank lines ignored), each checked; the line numbers are 1-based. */
export function checkAllowlist(text: string): { entries: string[]; problems: { line: number; message: string }[] } {
  const entries: string[] = [];
  const problems: { line: number; message: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const c = checkCidr(line);
    if (c.ok) entries.push(line.trim());
    else problems.push({ line: i + 1, message: c.message });
  });
  return { entries, problems };
}
