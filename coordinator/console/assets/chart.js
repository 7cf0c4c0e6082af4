/** Chart.js for the tabs that draw charts (Rounds, Stats): loaded once, only when such a tab first opens. */
import { h } from './dom.js';

let chartLoaded;

/**
 * Resolves to Chart.js's `Chart` class, adding its script (the heaviest file, which the overview does not need) on first use.
 * @example const Chart = await loadChart(); new Chart(canvas, { type: 'line', data, options })
 */
export function loadChart() {
  chartLoaded ??= new Promise((resolve, reject) => {
    if (window.Chart) return resolve(window.Chart);
    const script = h('script', { src: '/console/vendor/chart.umd.js' });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error('Chart.js did not load'));
    document.head.append(script);
  });
  return chartLoaded;
}
