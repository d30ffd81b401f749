/** Covers the window while files are dragged over it, saying what a drop will do. */
export function DropOverlay({ desktop }: { desktop: boolean }) {
  return (
    <div className="drop-overlay" data-testid="drop-overlay" aria-hidden="true">
      <div className="drop-overlay-box">
        <p className="drop-overlay-title">Drop to encode</p>
        <p>{desktop ? 'Files and folders are encoded where they are.' : 'Files and folders are uploaded to the coordinator, then encoded.'}</p>
      </div>
    </div>
  );
}
