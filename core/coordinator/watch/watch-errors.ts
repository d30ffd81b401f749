/** A watch folder's settings were refused; the message names the folder and the field. */
export class WatchConfigError extends Error {
  override name = 'WatchConfigError';
  constructor(
    message: string,
    /** The field at fault (`path`, `preset`, `out`, `after`, `stable`, `include`, `exclude`). */
    readonly field: string,
  ) {
    super(message);
  }
}

/** The folder is watched already (one row per path, so two watchers never race on a file). */
export class WatchFolderExistsError extends WatchConfigError {
  override name = 'WatchFolderExistsError';
  constructor(
    readonly path: string,
    readonly existingId: number,
  ) {
    super(`${path} is watched already (watch folder ${existingId}); remove it first to change its settings`, 'path');
  }
}
