// Loads the app's wasm module inside the training worker. Trunk copies this file next to
// index.html, so asset paths resolve as they do for the page. The module's start function finds
// a worker global scope, so it runs the training loop instead of mounting the page.
import init from "./ganvas.js";

init();
