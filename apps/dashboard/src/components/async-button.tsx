// A button whose action is a promise: disabled and marked busy until it settles, so a double click acts once.
import { ButtonHTMLAttributes, useState } from 'react';

interface Props extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick'> {
  onClick: () => Promise<unknown>;
}

export function AsyncButton({ onClick, disabled, className = 'button', children, ...rest }: Props) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      {...rest}
      className={className}
      disabled={disabled || busy}
      aria-busy={busy || undefined}
      onClick={() => {
        setBusy(true);
        void onClick().finally(() => setBusy(false));
      }}
    >
      {children}
    </button>
  );
}
