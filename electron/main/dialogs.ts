import type { BrowserWindow, Dialog, OpenDialogOptions } from 'electron';

/** What the file picker offers first; "All files" is there too, since ffmpeg reads far more. */
export const VIDEO_EXTENSIONS = ['mp4', 'mkv', 'mov', 'avi', 'webm', 'm4v', 'mpg', 'mpeg', 'ts', 'm2ts', 'mts', 'wmv', 'flv', 'mxf', 'vob', '3gp'];

/** The OS pickers behind the bridge's pickFiles / pickFolder, modal to the main window. */
export function createDialogs(deps: { dialog: Pick<Dialog, 'showOpenDialog'>; getWindow: () => BrowserWindow | undefined }) {
  const open = (options: OpenDialogOptions) => {
    const win = deps.getWindow();
    return win ? deps.dialog.showOpenDialog(win, options) : deps.dialog.showOpenDialog(options);
  };
  return {
    async pickFiles(): Promise<string[]> {
      const r = await open({
        title: 'Add videos',
        properties: ['openFile', 'multiSelections'],
        filters: [
          { name: 'Videos', extensions: VIDEO_EXTENSIONS },
          { name: 'All files', extensions: ['*'] },
        ],
      });
      return r.canceled ? [] : r.filePaths;
    },
    async pickFolder(): Promise<string | null> {
      const r = await open({ title: 'Choose a folder', properties: ['openDirectory', 'createDirectory'] });
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
  };
}
