// Short confirmations and failures of actions ("Triggered run #12"), announced to screen readers.
import { createContext, ReactNode, useCallback, useContext, useMemo, useState } from 'react';
import './toasts.css';

export type ToastKind = 'ok' | 'error';
interface Toast {
  id: number;
  kind: ToastKind;
  text: string;
  link?: { href: string; label: string };
}
type Notify = (text: string, kind?: ToastKind, link?: Toast['link']) => void;

const ToastContext = createContext<Notify>(() => undefined);

export function useToast(): Notify {
  return useContext(ToastContext);
}

let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const notify = useCallback<Notify>(
    (text, kind = 'ok', link) => {
      const id = nextId++;
      setToasts((ts) => [...ts.slice(-3), { id, kind, text, link }]);
      window.setTimeout(() => dismiss(id), kind === 'error' ? 10_000 : 5000);
    },
    [dismiss],
  );
  const value = useMemo(() => notify, [notify]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`}>
            <span className="toast-text">{t.text}</span>
            {t.link && <a href={t.link.href}>{t.link.label}</a>}
            <button type="button" className="link-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
