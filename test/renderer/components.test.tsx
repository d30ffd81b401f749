// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../renderer/src/api/client.ts';
import { EmptyState } from '../../renderer/src/components/empty-state.tsx';
import { ErrorBanner } from '../../renderer/src/components/error-banner.tsx';
import { ProgressBar } from '../../renderer/src/components/progress-bar.tsx';
import { parseRoute, routeHash } from '../../renderer/src/state/hash-route.ts';

afterEach(cleanup);

describe('EmptyState', () => {
  it('shows a title and what to do, under the empty-state test id', () => {
    render(<EmptyState title="No jobs yet">Drop files here</EmptyState>);
    const el = screen.getByTestId('empty-state');
    expect(el.textContent).toBe('No jobs yetDrop files here');
  });
});

describe('ProgressBar', () => {
  it('is a progressbar with a clamped, rounded value, and no value when unknown', () => {
    const { rerender } = render(<ProgressBar value={42.6} testId="bar" />);
    const bar = screen.getByTestId('bar');
    expect(bar.getAttribute('role')).toBe('progressbar');
    expect(bar.getAttribute('aria-valuenow')).toBe('43');
    rerender(<ProgressBar value={140} testId="bar" />);
    expect(bar.getAttribute('aria-valuenow')).toBe('100');
    rerender(<ProgressBar value={null} testId="bar" />);
    expect(bar.hasAttribute('aria-valuenow')).toBe(false);
  });
});

describe('ErrorBanner', () => {
  it('renders nothing without an error, an alert with the message otherwise, and dismisses', () => {
    const { rerender } = render(<ErrorBanner error={null} />);
    expect(screen.queryByRole('alert')).toBeNull();
    const onDismiss = vi.fn();
    rerender(<ErrorBanner error={new ApiError(409, 'builtin-preset', 'built-in presets cannot be changed')} onDismiss={onDismiss} />);
    expect(screen.getByRole('alert').textContent).toContain('built-in presets cannot be changed');
    fireEvent.click(screen.getByLabelText('Dismiss error'));
    expect(onDismiss).toHaveBeenCalled();
  });
});

describe('hash routes', () => {
  it('parses the views and the open job, defaulting to the queue', () => {
    expect(parseRoute('')).toEqual({ view: 'queue', jobId: null });
    expect(parseRoute('#/devices')).toEqual({ view: 'devices', jobId: null });
    expect(parseRoute('#/queue/job/12')).toEqual({ view: 'queue', jobId: 12 });
    expect(parseRoute('#/queue/job/x')).toEqual({ view: 'queue', jobId: null });
    expect(parseRoute('#/nope')).toEqual({ view: 'queue', jobId: null });
    expect(routeHash({ view: 'queue', jobId: 5 })).toBe('#/queue/job/5');
    expect(routeHash({ view: 'history' })).toBe('#/history');
  });
});
