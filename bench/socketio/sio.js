// The socket.io page's whole program, as the plain page's: show the newest value, emit an
// increment per click. WebSocket transport only, so that it is measured as the app is.
(() => {
  const counter = new URLSearchParams(location.search).get('counter');
  const count = document.querySelector('[data-testid=count]');
  const status = document.querySelector('[data-testid=status]');
  // Values only grow, so the highest is the newest, as the plain page's version is.
  let newest = -Infinity;
  const socket = io({ transports: ['websocket'], query: { counter } });
  socket.on('state', ({ value }) => {
    if (value > newest) {
      newest = value;
      count.textContent = String(value);
      status.dataset.state = 'live';
    }
  });
  document.querySelector('[data-testid=increment]').addEventListener('click', () => {
    socket.emit('increment');
  });
})();
