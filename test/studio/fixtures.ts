/**
 * Small data sets the browser tests upload: made here, deterministic, real files.
 */

/** A seeded PRNG (mulberry32), so every run uploads the same rows. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Home {
  readonly listing: number;
  readonly area: number;
  readonly rooms: number;
  readonly city: string;
  readonly garden: "Yes" | "No";
  readonly price: number;
}

/** House prices: a regression target (price) with a row-number column an ID check should flag. */
export function homes(count = 240, seed = 7): Home[] {
  const next = random(seed);
  const cities = ["Lyon", "Nantes", "Lille", "Nice"];
  const out: Home[] = [];
  for (let i = 0; i < count; i++) {
    const area = Math.round(35 + next() * 140);
    const rooms = Math.max(1, Math.round(area / 30 + next() * 2 - 1));
    const city = cities[Math.floor(next() * cities.length)] ?? "Lyon";
    const garden = next() < 0.4 ? "Yes" : "No";
    const base = { Lyon: 4200, Nantes: 3600, Lille: 3100, Nice: 5200 }[city] ?? 4000;
    const price = Math.round(
      area * base * (garden === "Yes" ? 1.08 : 1) + rooms * 4000 + (next() - 0.5) * 40_000,
    );
    out.push({ listing: 1000 + i, area, rooms, city, garden, price });
  }
  return out;
}

export function toCsv(rows: readonly Home[]): string {
  const header = "listing,area,rooms,city,garden,price";
  return `${[header, ...rows.map((r) => [r.listing, r.area, r.rooms, r.city, r.garden, r.price].join(","))].join("\n")}\n`;
}
