/** Renderer entry: pick the transport once, then render the shell. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connect } from './api/client.ts';
import { App } from './App.tsx';

const connection = connect();
const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
createRoot(root).render(
  <StrictMode>
    <App connection={connection} />
  </StrictMode>,
);
