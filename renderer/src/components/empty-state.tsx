import type { ReactNode } from 'react';

/** What a view shows instead of an empty list: a title and what the user can do next. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty-state" data-testid="empty-state" role="status">
      <p className="empty-state-title">{title}</p>
      {children !== undefined && <div className="empty-state-body">{children}</div>}
    </div>
  );
}
