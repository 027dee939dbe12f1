// Stampede dashboard: keeps the order list live, flags an open order changed elsewhere,
// confirms cancelling, and edits a product's option choices as rows. The server says when orders change over
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
  // Product form: each option group's choices as rows (name, price change, id) with add and
  // remove buttons. The rows write the typed `id | Name | +1.50` lines into the textarea,
  // which stays the form's field (hidden): the server reads one format, and without this
  // script the textarea is the editor. Text the rows cannot show stays a textarea.
  function slug(text) {
    return text.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  }
  document.querySelectorAll('[data-choices]').forEach(function (field) {
    var area = field.querySelector('textarea');
    var lines = area.value.split('\n').map(function (l) { return l.trim(); }).filter(Boolean);
    var parsed = lines.map(function (l) { return l.split('|').map(function (p) { return p.trim(); }); });
    if (parsed.some(function (p) { return p.length < 2 || p.length > 3; })) return;
    var legend = field.closest('fieldset').querySelector('legend').textContent;
    var list = document.createElement('div');
    list.className = 'choice-rows';
    list.setAttribute('role', 'group');
    list.setAttribute('aria-label', 'Choices of ' + legend.replace(/^Option group: /, ''));
    var head = document.createElement('div');
    head.className = 'choice-row head';
    head.setAttribute('aria-hidden', 'true');
    head.innerHTML = '<span>Name</span><span>Price change</span><span>Id</span><span></span>';
    list.appendChild(head);
    var add = document.createElement('button');
    add.type = 'button';
    add.className = 'btn';
    add.textContent = 'Add a choice';
    function sync() {
      area.value = Array.prototype.map.call(list.querySelectorAll('.choice-row:not(.head)'), function (row) {
        var v = row.querySelectorAll('input');
        var name = v[0].value.trim(), price = v[1].value.trim(), id = v[2].value.trim() || slug(name);
        if (!name && !id && !price) return '';
        return id + ' | ' + name + ' | ' + (price || '0');
      }).filter(Boolean).join('\n');
    }
    // Each input in a label whose caption shows on phones, where the column heads do not fit.
    function input(row, caption, label, value, placeholder) {
      var wrap = document.createElement('label');
      var text = document.createElement('span');
      text.textContent = caption;
      text.setAttribute('aria-hidden', 'true');
      var el = document.createElement('input');
      el.type = 'text';
      el.value = value || '';
      el.placeholder = placeholder;
      el.setAttribute('aria-label', label);
      el.addEventListener('input', sync);
      wrap.appendChild(text);
      wrap.appendChild(el);
      row.appendChild(wrap);
      return el;
    }
    function row(parts) {
      var r = document.createElement('div');
      r.className = 'choice-row';
      var n = list.querySelectorAll('.choice-row:not(.head)').length + 1;
      var name = input(r, 'Name', 'Choice ' + n + ' name', parts[1], 'e.g. Large 35 cm');
      var price = input(r, 'Price change', 'Choice ' + n + ' price change', parts[2], '+0.00');
      price.inputMode = 'decimal';
      var id = input(r, 'Id', 'Choice ' + n + ' id', parts[0], 'from the name');
      var remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'btn danger';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', 'Remove choice ' + n);
      remove.addEventListener('click', function () { r.remove(); sync(); add.focus(); });
      // The id follows the name until someone types one of their own.
      name.addEventListener('input', function () { if (!id.dataset.typed) id.value = slug(name.value); sync(); });
      id.addEventListener('input', function () { id.dataset.typed = '1'; });
      if (parts[0]) id.dataset.typed = '1';
      r.appendChild(remove);
      list.appendChild(r);
      return r;
    }
    parsed.forEach(row);
    if (!parsed.length) row([]);
    add.addEventListener('click', function () { row([]).querySelector('input').focus(); });
    area.hidden = true;
    field.querySelector('label .hint').textContent = 'what customers choose from; the price change is added to the product\'s price';
    field.insertBefore(list, area);
    field.insertBefore(add, area);
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
