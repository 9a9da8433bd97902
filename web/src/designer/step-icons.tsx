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
