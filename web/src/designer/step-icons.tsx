/**
 * Pictures for the step kinds' icon names (src/spec/steps/*). A kind with an icon name not
 * drawn here gets the generic box, so a new kind never breaks the palette.
 */
import type { ReactNode } from "react";

const PATHS: Record<string, ReactNode> = {
  input: (
    <>
      <path d="M3 12h11M10 8l4 4-4 4" />
      <path d="M14 4h4.5A1.5 1.5 0 0120 5.5v13a1.5 1.5 0 01-1.5 1.5H14" />
    </>
  ),
  shield: (
    <>
      <path d="M12 3l7.5 3v5.5c0 4.5-3.2 8-7.5 9.5-4.3-1.5-7.5-5-7.5-9.5V6z" />
      <path d="M8.8 12.2l2.2 2.2 4.3-4.6" />
    </>
  ),
  model: (
    <>
      <circle cx="6" cy="6" r="2.2" />
      <circle cx="6" cy="18" r="2.2" />
      <circle cx="18" cy="12" r="2.2" />
      <path d="M8 7l8 4M8 17l8-4M6 8.2v7.6" />
    </>
  ),
  // Two speech bubbles: a conversation remembered between requests.
  session: (
    <>
      <path d="M4 5.5A1.5 1.5 0 015.5 4h9A1.5 1.5 0 0116 5.5v6a1.5 1.5 0 01-1.5 1.5H9l-3.5 3v-3h0A1.5 1.5 0 014 11.5z" />
      <path d="M19 9h.5a1.5 1.5 0 011.5 1.5v6a1.5 1.5 0 01-1.5 1.5H19v3l-3.5-3H12" />
    </>
  ),
  // A first model, and a second one below it that only some requests reach.
  cascade: (
    <>
      <rect x="3" y="3.5" width="9" height="6" rx="1.5" />
      <rect x="12" y="14.5" width="9" height="6" rx="1.5" />
      <path d="M7.5 9.5v5.5h4.5M9.8 12.8L12 15l-2.2 2.2" />
    </>
  ),
  // A globe: something outside the process.
  http: (
    <>
      <circle cx="12" cy="12" r="8.5" />
      <path d="M3.5 12h17M12 3.5c2.4 2.3 3.6 5.2 3.6 8.5s-1.2 6.2-3.6 8.5c-2.4-2.3-3.6-5.2-3.6-8.5s1.2-6.2 3.6-8.5z" />
    </>
  ),
  // An umbrella: the answer when something fails.
  fallback: (
    <>
      <path d="M3 12a9 9 0 0118 0z" />
      <path d="M12 12v6.5a2 2 0 01-4 0M12 3v0" />
    </>
  ),
  output: (
    <>
      <path d="M10 12h11M17 8l4 4-4 4" />
      <path d="M10 4H5.5A1.5 1.5 0 004 5.5v13A1.5 1.5 0 005.5 20H10" />
    </>
  ),
};

const BOX = (
  <>
    <rect x="4" y="4" width="16" height="16" rx="3" />
    <path d="M4 10h16" />
  </>
);

export function StepIcon({ name }: { name: string }) {
  return (
    <svg
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
      className="step-icon"
    >
      {PATHS[name] ?? BOX}
    </svg>
  );
}
