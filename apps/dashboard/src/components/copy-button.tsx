// Copies a text to the clipboard. The Clipboard API exists only in secure contexts (https, localhost): elsewhere
// (a dispatcher reached over plain http by address) the text is selected and copied the old way.
import { useState } from 'react';
import { useToast } from './toasts';

async function copyText(text: string, fallbackFrom?: HTMLElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // refused (no permission, page not focused): try the selection below
  }
  if (!fallbackFrom) return false;
  const range = document.createRange();
  range.selectNodeContents(fallbackFrom);
  const selection = window.getSelection();
  selection?.removeAllRanges();
  selection?.addRange(range);
  // execCommand is deprecated, and the only copy there is outside secure contexts.
  return document.execCommand('copy');
}

export function CopyButton({ text, label, source }: { text: string; label: string; source: () => HTMLElement | null }) {
  const toast = useToast();
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="button"
      onClick={() => {
        void copyText(text, source()).then((ok) => {
          setCopied(ok);
          toast(
            ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.',
            ok ? 'ok' : 'error',
          );
        });
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}
