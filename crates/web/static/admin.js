// Stampede dashboard: keeps the order list live, flags an open order changed elsewhere, and
// confirms cancelling. The server says when orders change over
// Server-Sent Events; the list's rows are then fetched again with the same filters. Where
// EventSource is missing or keeps failing, it polls every 5 s. Without JavaScript the page
// works the same, with a Refresh link.
(function () {
  'use strict';
  // Cancelling asks first. Confirmed here, the form says so; without this script the server
  // answers with a confirmation page instead.
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.getAttribute('data-confirm'))) { e.preventDefault(); return; }
      var yes = document.createElement('input');
      yes.type = 'hidden';
      yes.name = 'confirm';
      yes.value = 'yes';
      form.appendChild(yes);
    });
  });
  // On an order's page: say so when someone else changes the order meanwhile.
  var changed = document.querySelector('[data-order-changed]');
  if (changed && window.EventSource) {
    var watch = new EventSource('/admin/orders/events');
    watch.addEventListener('ready', function () { changed.setAttribute('data-live', ''); });
    watch.addEventListener('orders', function () {
      fetch('/api/orders/' + encodeURIComponent(changed.getAttribute('data-order')), { headers: { accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (order) {
          if (order && order.status !== changed.getAttribute('data-current')) { changed.hidden = false; watch.close(); }
        })
        .catch(function () { /* the next change tries again */ });
    });
  }
  var table = document.querySelector('[data-orders]');
  if (!table || /[?&]cursor=/.test(location.search)) return;
  var rows = table.querySelector('[data-rows]');
  var status = document.querySelector('[data-live-status]');
  var query = table.getAttribute('data-query') || '';
  var busy = false, again = false, polling = null, failures = 0;

  function say(text) { if (status) status.textContent = text; }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch('/admin/orders/rows?' + query, { headers: { accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (html) {
        var known = {};
        rows.querySelectorAll('tr[data-order-id]').forEach(function (tr) { known[tr.getAttribute('data-order-id')] = true; });
        rows.innerHTML = html;
        var fresh = 0;
        rows.querySelectorAll('tr[data-order-id]').forEach(function (tr) {
          if (!known[tr.getAttribute('data-order-id')]) { tr.classList.add('new'); fresh++; }
        });
        say(fresh ? fresh + (fresh === 1 ? ' new order' : ' new orders') + ' just arrived.' : 'Up to date.');
      })
      .catch(function () { say('Live updates paused: the server did not answer. Use Refresh.'); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }

  function poll() {
    if (polling) return;
    polling = setInterval(refresh, 5000);
    say('Checking for new orders every 5 seconds.');
  }

  if (!window.EventSource) { poll(); return; }
  var source = new EventSource('/admin/orders/events');
  source.addEventListener('ready', function () { failures = 0; say('Live: new orders appear here as they arrive.'); });
  source.addEventListener('orders', function () { failures = 0; refresh(); });
  source.onerror = function () {
    failures++;
    if (failures >= 3) { source.close(); poll(); }
  };
})();
