import type { ReactNode } from 'react';
import { ApiError } from '../api/client.ts';

/** The message a user should read for a failed call (an ApiError already says what happened). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A dismissible error line; `role=alert` so a screen reader announces it when it appears. */
export function ErrorBanner({
  error,
  onDismiss,
  testId,
  children,
}: {
  error: unknown;
  onDismiss?: () => void;
  testId?: string;
  children?: ReactNode;
}) {
  if (error === null || error === undefined) return null;
  return (
    <div className="error-banner" role="alert" data-testid={testId}>
      <span className="error-banner-text">{errorText(error)}</span>
      {children}
      {onDismiss && (
        <button type="button" className="button-quiet" onClick={onDismiss} aria-label="Dismiss error">
          ×
        </button>
      )}
    </div>
  );
}
