/**
 * Catches render errors so one broken panel shows a message instead of a blank
 * window. A class because React offers error boundaries only as classes.
 */
import { Component, type ReactNode } from 'react';
import { ErrorBox } from './Notices.tsx';

interface Props {
  children: ReactNode;
  /** Changing the key (e.g. the route) clears a caught error. */
  resetKey?: string;
}

interface State {
  error: unknown;
  key: string | undefined;
}

export class ErrorBoundary extends Component<Props, State> {
  override state: State = { error: null, key: undefined };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    return props.resetKey !== state.key ? { key: props.resetKey, error: null } : null;
  }

  override render(): ReactNode {
    if (this.state.error !== null) {
      return (
        <div className="page-pad">
          <ErrorBox title="This view failed to render" error={this.state.error} testId="render-error" />
        </div>
      );
    }
    return this.props.children;
  }
}
