import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
// The base first: the components' stylesheets, imported by the components, come after it.
import './base.css';
import { App } from './app';
import { ConfirmProvider } from './components/confirm-dialog';
import { ToastProvider } from './components/toasts';

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');
createRoot(root).render(
  <StrictMode>
    <ToastProvider>
      <ConfirmProvider>
        <App />
      </ConfirmProvider>
    </ToastProvider>
  </StrictMode>,
);
