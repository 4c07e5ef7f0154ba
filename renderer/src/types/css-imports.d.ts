/**
 * Side-effect CSS imports (`import './explore.css'`) are bundled by Vite; this
 * tells TypeScript they exist. Shorthand ambient declarations merge, so another
 * folder declaring the same is harmless.
 */
declare module '*.css';
