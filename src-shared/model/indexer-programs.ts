/**
 * The indexers and thumbnailers refused files that are not on this device unless the settings say
 * otherwise (docs/indexers.md). Shared: the engine starts from it, the panel restores it.
 */

/**
 * `name` matches a process whose program file is called `name` or whose process name is `name` (cut
 * to the kernel's 15 characters, as /proc/pid/comm keeps it); `name/arg` also needs `arg` among its
 * arguments (KDE runs every KIO worker as `kioworker`, the thumbnailer as
 * `kioworker …/thumbnail.so thumbnail …`); `*` matches any run of characters in the program file's
 * or process's name.
 */
export const DEFAULT_INDEXER_PROGRAMS: readonly string[] = [
  // GNOME: Tracker 3 (LocalSearch since GNOME 47) and Tracker 2
  'tracker-miner-fs-3',
  'tracker-extract-3',
  'localsearch-3',
  'localsearch-extractor-3',
  'tracker-miner-fs',
  'tracker-extract',
  // KDE
  'baloo_file',
  'baloo_file_extractor',
  'kioworker/thumbnail',
  'kioslave5/thumbnail',
  // locate databases (they list folders and stat files; named so a future one that reads is caught)
  'updatedb',
  'updatedb.plocate',
  'updatedb.mlocate',
  'plocate-build',
  // thumbnailers (freedesktop .thumbnailer programs and Xfce's daemon)
  'gnome-desktop-thumbnailer',
  'gdk-pixbuf-thumbnailer',
  'totem-video-thumbnailer',
  'ffmpegthumbnailer',
  'evince-thumbnailer',
  'atril-thumbnailer',
  'xreader-thumbnailer',
  'gsf-office-thumbnailer',
  'gnome-thumbnail-font',
  'gnome-epub-thumbnailer',
  'tumblerd',
];

