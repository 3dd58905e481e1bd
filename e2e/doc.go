// Package e2e holds hoard's end-to-end tests in a real browser: headless
// Chromium, driven through the DevTools protocol by chromedp. It is a
// module of its own so that chromedp never becomes a dependency of hoard.
// TestAssetsBrowserCache checks that hashed assets are fetched once and
// then come from the browser's cache, compressed ones included (sent as
// br or gzip per the browser's Accept-Encoding, and decoded whole).
//
// The tests look for a browser in $HOARD_CHROMIUM, then chromium,
// chromium-browser and google-chrome on PATH, and skip, saying so, when
// there is none (on Debian: apt-get install chromium).
package e2e
