/** The name and nice value (field 19) from a /proc/PID/stat line. */
export function nameAndNice(stat: string): { name: string; nice: number } {
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  // Fields after the name start with the third; the 19th is the 17th of those.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { name, nice: Number(rest[16]) };
}
