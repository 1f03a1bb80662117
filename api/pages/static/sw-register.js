// Install the service worker that keeps the officer's pages on the phone, so the recording
// page opens with no signal. Registered from the officer's pages only.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => {
    // The pages work without it (only not offline); say so in the console for support staff.
    console.warn("voice-statement: the offline service worker did not install:", error);
  });
}
