// Package e2e holds hoard's end-to-end tests in a real browser: headless
// Chromium, driven through the DevTools protocol by chromedp. It is a
// module of its own so that chromedp never becomes a dependency of hoard.
//
// The tests look for a browser in $HOARD_CHROMIUM, then chromium,
// chromium-browser and google-chrome on PATH, and skip, saying so, when
// there is none (on Debian: apt-get install chromium).
package e2e
