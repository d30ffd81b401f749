import { useState } from 'react';

export interface ConfirmButtonProps {
  /** data-testid of the first button; the confirm and cancel buttons get `-confirm` / `-cancel`. */
  testId: string;
  label: string;
  /** The question shown in place of the button, e.g. "Revoke gpu-box?". */
  question: string;
  confirmLabel: string;
  disabled?: boolean;
  onConfirm(): void;
}

/**
 * A destructive action that asks first, inline: no blocking `window.confirm()`, and the question
 * sits where the user's eyes and focus already are. Focus lands on Cancel so a stray Enter is safe.
 */
export function ConfirmButton({ testId, label, question, confirmLabel, disabled, onConfirm }: ConfirmButtonProps) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className="button-danger" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button
        type="button"
        className="button-danger"
        data-testid={`${testId}-confirm`}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" data-testid={`${testId}-cancel`} autoFocus onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
