import { useLayoutEffect, useRef } from 'react';

/** How close to the bottom (px) still counts as "following" the log. */
const STICK_PX = 24;

/**
 * The ffmpeg log tail. It follows new lines like `tail -f` while the user is at the bottom; once
 * they scroll up to read, it stays where they are until they scroll back down.
 */
export function JobLog({ lines }: { lines: readonly string[] }) {
  const ref = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  const text = lines.join('\n');
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <pre
      ref={ref}
      className="job-log"
      data-testid="job-log"
      tabIndex={0}
      aria-label="Encoder log"
      onScroll={(e) => {
        const el = e.currentTarget;
        follow.current = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_PX;
      }}
    >
      {text || 'No log lines yet.'}
    </pre>
  );
}
