/**
 * The key OneDrive compares names by: it is case-insensitive and, on Linux, names arrive in
 * whatever Unicode normalisation the program used. Every name lookup and every uniqueness check
 * in the store goes through this one function, so they cannot disagree.
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}
