// The plain page's whole program: show the newest state, send an increment per click.
(() => {
  const counter = new URLSearchParams(location.search).get('counter');
  const count = document.querySelector('[data-testid=count]');
  const status = document.querySelector('[data-testid=status]');
  const client = Math.random().toString(36).slice(2, 12);
  let version = -1;
  let sent = 0;
  const socket = new WebSocket(`ws://${location.host}/ws/counters/${counter}`);
  socket.addEventListener('message', (event) => {
    const frame = JSON.parse(event.data);
    if ((frame.type === 'state' || frame.type === 'ack') && frame.version > version) {
      version = frame.version;
      count.textContent = String(frame.value);
      status.dataset.state = 'live';
    }
  });
  document.querySelector('[data-testid=increment]').addEventListener('click', () => {
    sent += 1;
    socket.send(JSON.stringify({ type: 'increment', op_id: `${client}-${sent}` }));
  });
})();
