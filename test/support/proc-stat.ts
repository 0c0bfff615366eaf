/** A /proc/PID/stat line's name, and the fields after it (the third field on). */
function fields(stat: string): { name: string; rest: string[] } {
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  return { name, rest: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
}

/** The name and nice value (field 19) from a /proc/PID/stat line. */
export function nameAndNice(stat: string): { name: string; nice: number } {
  const { name, rest } = fields(stat);
  return { name, nice: Number(rest[16]) };
}

/** The name and parent's pid (field 4) from a /proc/PID/stat line. */
export function nameAndParent(stat: string): { name: string; parent: number } {
  const { name, rest } = fields(stat);
  return { name, parent: Number(rest[1]) };
}
