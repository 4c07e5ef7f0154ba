/**
 * Side-effect CSS imports (`import './models.css'`) are bundled by Vite; this
 * tells TypeScript they exist. Shorthand ambient declarations merge, so another
 * page declaring the same is harmless.
 */
declare module '*.css';
