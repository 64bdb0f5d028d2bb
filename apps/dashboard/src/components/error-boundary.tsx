// A page that throws while rendering shows what broke instead of blanking the whole app; the navigation stays.
import { Component, ErrorInfo, ReactNode } from 'react';

interface Props {
  /** Changing it (a new route) clears the error. */
  resetKey: string;
  children: ReactNode;
}

export class ErrorBoundary extends Component<Props, { error: Error | null; key: string }> {
  override state = { error: null as Error | null, key: this.props.resetKey };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  static getDerivedStateFromProps(props: Props, state: { error: Error | null; key: string }) {
    return props.resetKey === state.key ? null : { error: null, key: props.resetKey };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    // Left in the browser console for a bug report; the page says what to do.
    console.error(error, info.componentStack);
  }

  override render(): ReactNode {
    if (!this.state.error) return this.props.children;
    return (
      <div className="state state-error" role="alert">
        <p>
          <strong>This page failed to render.</strong> {this.state.error.message}
        </p>
        <p>Reload the page; if it happens again, the browser console has the details for a bug report.</p>
        <button type="button" className="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
