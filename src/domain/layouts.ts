/** Where zones sit on a replay canvas. Positions of agents are computed inside these bounds. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Zone {
  id: string;
  name: string;
  bounds: Rect;
  color: string | null;
}

export interface LayoutProfile {
  id: string;
  name: string;
  canvasSize: { width: number; height: number };
  zones: Zone[];
}

/** The two layouts of the 2D replay specification: three vertical bands, or four quadrants. */
export const LAYOUT_PROFILES: readonly LayoutProfile[] = [
  {
    id: 'default',
    name: 'Standard Three-Zone',
    canvasSize: { width: 1000, height: 600 },
    zones: [
      { id: 'supporters', name: 'Supporters', bounds: { x: 0, y: 0, width: 300, height: 600 }, color: '#10b981' },
      { id: 'neutral', name: 'Neutral', bounds: { x: 300, y: 0, width: 400, height: 600 }, color: '#6b7280' },
      { id: 'skeptics', name: 'Skeptics', bounds: { x: 700, y: 0, width: 300, height: 600 }, color: '#ef4444' },
    ],
  },
  {
    id: 'quadrant',
    name: 'Four-Quadrant',
    canvasSize: { width: 800, height: 800 },
    zones: [
      { id: 'high_aware_positive', name: 'High awareness, positive', bounds: { x: 400, y: 0, width: 400, height: 400 }, color: '#10b981' },
      { id: 'low_aware_positive', name: 'Low awareness, positive', bounds: { x: 0, y: 0, width: 400, height: 400 }, color: '#6ee7b7' },
      { id: 'low_aware_negative', name: 'Low awareness, negative', bounds: { x: 0, y: 400, width: 400, height: 400 }, color: '#fca5a5' },
      { id: 'high_aware_negative', name: 'High awareness, negative', bounds: { x: 400, y: 400, width: 400, height: 400 }, color: '#ef4444' },
    ],
  },
];

export const findLayoutProfile = (id: string) => LAYOUT_PROFILES.find((profile) => profile.id === id) ?? null;
