// Stampede storefront: progressive enhancement only. Every page works without this file;
// it adds the builder's live price and topping limit, live stock (Server-Sent Events with a
// polling fallback), sale countdowns that open and close sales on time by the server's clock,
// local times, a checkout that reports network failures instead of losing the order, and an
// order page that follows the kitchen, and the waiting room's live place in line.
(function () {
  'use strict';
  var LOW_STOCK = 50; // display::LOW_STOCK in the server
  var POLL_MS = 5000;

  function all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // Same shapes as display.rs, so a value never changes format when it updates.
  function money(prefix, cents) {
    var sign = cents < 0 ? '-' : '';
    cents = Math.abs(cents);
    return sign + prefix + Math.floor(cents / 100) + '.' + String(cents % 100).padStart(2, '0');
  }
  function stockLabel(n) { return n === 0 ? 'Sold out' : n <= LOW_STOCK ? n + ' left' : 'In stock'; }
  function stockClass(n) { return n === 0 ? 'out' : n <= LOW_STOCK ? 'low' : 'ok'; }

  function builder(form) {
    var base = Number(form.dataset.base), prefix = form.dataset.prefix;
    var out = form.querySelector('[data-unit-price]');
    function update() {
      var unit = base;
      all('input[data-delta]:checked', form).forEach(function (i) { unit += Number(i.dataset.delta); });
      out.textContent = money(prefix, unit);
      // Past the limit the unticked boxes are disabled; the server enforces it regardless.
      all('fieldset[data-multi]', form).forEach(function (fs) {
        var boxes = all('input[type=checkbox]', fs);
        var ticked = boxes.filter(function (b) { return b.checked; }).length;
        boxes.forEach(function (b) { if (!b.checked) b.disabled = ticked >= Number(fs.dataset.max); });
      });
    }
    form.addEventListener('change', update);
    update();
  }

  function applyStock(levels) {
    levels.forEach(function (p) {
      all('[data-stock-for="' + p.id + '"]').forEach(function (b) {
        b.textContent = stockLabel(p.stock);
        b.className = 'badge ' + stockClass(p.stock);
      });
      all('[data-buy-for="' + p.id + '"]').forEach(function (btn) {
        if (p.stock === 0) {
          btn.disabled = true;
          btn.textContent = 'Sold out';
        } else if (btn.textContent === 'Sold out' && !btn.hasAttribute('data-closed') && !btn.hasAttribute('data-limit')) {
          btn.disabled = false; // stock came back (a cancelled order)
          btn.textContent = 'Add to cart';
        }
      });
      all('input[data-qty-for="' + p.id + '"]').forEach(function (q) {
        if (p.stock > 0 && Number(q.max) > p.stock) q.max = p.stock;
      });
    });
  }

  function liveStock() {
    if (!document.querySelector('[data-stock-for],[data-buy-for]')) return;
    var polling = false, failures = 0;
    function poll() {
      if (polling) return;
      polling = true;
      (function tick() {
        fetch('/api/products', { headers: { accept: 'application/json' } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (list) { if (list) applyStock(list); })
          .catch(function () { /* offline for now: try again on the next tick */ })
          .then(function () { setTimeout(tick, POLL_MS); });
      })();
    }
    if (!window.EventSource) return poll();
    var source = new EventSource('/api/stock/events');
    source.addEventListener('stock', function (e) { failures = 0; applyStock(JSON.parse(e.data)); });
    // EventSource reconnects by itself; a stream that keeps failing (a proxy that buffers or
    // cuts it) is given up for polling.
    source.onerror = function () {
      failures += 1;
      if (source.readyState === 2 || failures >= 3) { source.close(); poll(); }
    };
    window.addEventListener('pagehide', function () { source.close(); });
  }

  function wait(ms) {
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return 'in ' + d + ' d ' + h + ' h';
    return 'in ' + h + ':' + String(m).padStart(2, '0') + ':' + String(s % 60).padStart(2, '0');
  }

  // The server's clock minus this one, from the time the page was made. The page may have
  // taken a moment to arrive, so sales open at most that moment late, never early; the
  // server refuses an early order regardless.
  var skew = (function () {
    var server = Number(document.documentElement.getAttribute('data-server-now'));
    return server > 0 ? server - Date.now() : 0;
  })();
  function serverNow() { return Date.now() + skew; }

  function saleState(el, now) {
    var opens = Number(el.dataset.opens) || 0, closes = Number(el.dataset.closes) || 0;
    return closes && now >= closes ? 'ended' : opens && now < opens ? 'soon' : 'open';
  }

  // Turns a product's buy button and note to the sale's new state.
  function showSaleState(el, state) {
    el.dataset.saleState = state;
    var note = el.querySelector('[data-sale-note]');
    all('[data-buy-for]', el).forEach(function (btn) {
      if (state === 'open') {
        btn.removeAttribute('data-closed');
        if (btn.textContent !== 'Sold out' && !btn.hasAttribute('data-limit')) {
          btn.disabled = false;
          btn.textContent = 'Add to cart';
        }
      } else if (state === 'ended') {
        btn.setAttribute('data-closed', '');
        btn.disabled = true;
        btn.textContent = 'Sale ended';
      }
    });
    if (note) {
      if (state !== 'soon') note.hidden = false;
      if (state === 'open') note.textContent = 'The sale is open.';
      if (state === 'ended') note.textContent = 'This sale has ended.';
    }
  }

  // Opens and closes sales on the page at their moment by the server's clock, and ticks the
  // countdowns meanwhile. One timer, rescheduled to the next second or the next change.
  function saleWindows(root) {
    var sales = all('[data-sale-state]', root);
    if (!sales.length) return;
    var timer = null;
    function tick() {
      clearTimeout(timer);
      var now = serverNow(), next = Infinity, counting = false;
      sales.forEach(function (el) {
        var state = saleState(el, now);
        if (state !== el.dataset.saleState) showSaleState(el, state);
        [Number(el.dataset.opens), Number(el.dataset.closes)].forEach(function (t) { if (t > now) next = Math.min(next, t); });
        var countdown = state === 'soon' && el.querySelector('time[data-countdown]');
        if (countdown) { countdown.textContent = wait(Number(el.dataset.opens) - now); counting = true; }
      });
      if (next === Infinity) return;
      // Timers in hidden tabs are slowed; the visibility handler below catches up.
      timer = setTimeout(tick, Math.max(1, Math.min(next - now, counting ? 1000 - (now % 1000) : 60000)));
    }
    document.addEventListener('visibilitychange', function () { if (!document.hidden) tick(); });
    tick();
  }

  // Times in the visitor's own zone, named ("Dec 1, 2027, 1:00 PM EST"), as the server's
  // fallback names the shop's.
  var LOCAL = { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' };
  function localTimes(root) {
    all('time[data-local]', root).forEach(function (el) {
      var t = new Date(el.getAttribute('datetime'));
      if (!isNaN(t)) el.textContent = t.toLocaleString([], LOCAL);
    });
  }

  function checkout(form) {
    var address = form.querySelector('[data-address]');
    function sync() {
      var chosen = form.querySelector('input[name=fulfilment]:checked');
      address.hidden = !(chosen && chosen.value === 'delivery');
    }
    form.addEventListener('change', sync);
    sync();
    var sending = false;
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      if (sending) return; // a double click sends once; the idempotency key covers the rest
      sending = true;
      var button = form.querySelector('[data-submit]'), label = button.textContent;
      button.disabled = true;
      button.textContent = 'Placing your order…';
      fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), headers: { accept: 'text/html' } })
        .then(function (res) {
          if (res.redirected) { location.assign(res.url); return; }
          return res.text().then(function (html) {
            var next = new DOMParser().parseFromString(html, 'text/html').querySelector('main');
            if (!next) throw new Error('unexpected answer');
            document.querySelector('main').replaceWith(next);
            enhance(next);
            var target = next.querySelector('[aria-invalid=true]') || next.querySelector('.alert') || next;
            if (!target.hasAttribute('tabindex') && !target.matches('input')) target.setAttribute('tabindex', '-1');
            target.focus();
          });
        })
        .catch(function () {
          sending = false;
          button.disabled = false;
          button.textContent = label;
          var slot = document.querySelector('[data-form-alert]');
          slot.innerHTML = '';
          var p = document.createElement('p');
          p.className = 'alert';
          p.textContent = "We couldn't reach the shop, so your order may not have gone through. Check your connection " +
            'and press Place order again: the same order is never placed twice.';
          slot.appendChild(p);
        });
    });
  }

  function orderStatus(panel) {
    if (!panel.hasAttribute('data-poll')) return;
    var current = panel.dataset.status;
    (function schedule() {
      setTimeout(function () {
        fetch('/api/orders/' + encodeURIComponent(panel.dataset.order), { headers: { accept: 'application/json' } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (order) {
            if (!order || order.status === current) return;
            var steps = all('[data-step]', panel), at = -1;
            steps.forEach(function (li, i) { if (li.dataset.step === order.status) at = i; });
            // Cancelled, or a path this page does not draw: the server renders it best.
            if (at < 0) { location.reload(); return; }
            current = order.status;
            steps.forEach(function (li, i) {
              li.className = i < at || current === 'completed' ? 'done' : i === at ? 'current' : 'todo';
            });
            panel.querySelector('[data-status-label]').textContent = steps[at].textContent;
          })
          .catch(function () { /* offline for now: try again later */ })
          .then(function () { if (current !== 'completed' && current !== 'cancelled') schedule(); });
      }, 3000);
    })();
  }

  // The waiting room's "You're in line" page: follows the ticket's stream (polling where the
  // stream is cut, as behind API Gateway), updates the place in the page, says each change in
  // a polite live region, and swaps in the server's rendering when the state changes (the buy
  // form once admitted). The admission's countdown runs on the server's clock.
  function waitingLine(section) {
    var ticket = section.getAttribute('data-ticket');
    if (!ticket) return;
    var url = '/api/products/' + section.getAttribute('data-line') + '/queue/' + ticket;
    var state = section.getAttribute('data-state'), said = '';
    var announce = document.createElement('p');
    announce.className = 'sr';
    announce.setAttribute('aria-live', 'polite');
    section.parentNode.insertBefore(announce, section.nextSibling);
    function words(secs) {
      return secs < 60 ? 'less than a minute' : secs < 120 ? 'about a minute' : 'about ' + Math.ceil(secs / 60) + ' minutes';
    }
    function say(text) { if (text !== said) { said = text; announce.textContent = text; } }
    function swap() {
      fetch(location.href, { headers: { accept: 'text/html' }, credentials: 'same-origin' })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var next = new DOMParser().parseFromString(html, 'text/html').querySelector('[data-line]');
          if (!next) return;
          section.innerHTML = next.innerHTML;
          section.setAttribute('data-state', next.getAttribute('data-state'));
          countdown();
        })
        .catch(function () { /* offline for now: the next update tries again */ });
    }
    function apply(s) {
      if (s.state !== state) {
        state = s.state;
        say(s.state === 'admitted' ? "It's your turn: you can buy now." : s.state === 'soldOut' ? 'Sold out: the line has closed.' : 'Your turn has passed.');
        swap();
        return;
      }
      if (s.state !== 'waiting') return;
      var set = function (sel, v) { var el = section.querySelector(sel); if (el) el.textContent = v; };
      // The place shown counts only people still waiting, so it is always one more than
      // those ahead; the place since the line opened (position) also counts those let in.
      var letIn = s.position - s.ahead - 1;
      set('[data-place]', s.ahead + 1);
      set('[data-ahead]', s.ahead);
      set('[data-ahead-noun]', s.ahead === 1 ? 'person' : 'people');
      set('[data-wait]', words(s.estimatedWaitSeconds));
      set('[data-position]', s.position);
      set('[data-let-in]', letIn);
      set('[data-let-in-verb]', letIn === 1 ? 'has' : 'have');
      var note = section.querySelector('[data-let-in-note]');
      if (note) note.hidden = letIn < 1;
      say('Your place in line: ' + (s.ahead + 1) + '. ' + s.ahead + (s.ahead === 1 ? ' person' : ' people') + ' ahead of you.');
    }
    var timer = null;
    function countdown() {
      var el = section.querySelector('[data-countdown-until]');
      if (timer) clearInterval(timer);
      if (!el) return;
      var until = Number(el.getAttribute('data-countdown-until'));
      function tick() {
        var left = Math.max(0, Math.ceil((until - serverNow()) / 1000));
        el.textContent = Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0');
        if (left === 0) { clearInterval(timer); swap(); }
      }
      tick();
      timer = setInterval(tick, 1000);
    }
    countdown();
    var polling = false, failures = 0;
    function poll() {
      if (polling) return;
      polling = true;
      (function again() {
        fetch(url, { headers: { accept: 'application/json' } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (s) { if (s) apply(s); })
          .catch(function () { /* offline for now: try again on the next tick */ })
          .then(function () { setTimeout(again, POLL_MS); });
      })();
    }
    if (!window.EventSource) return poll();
    var source = new EventSource(url + '/events');
    source.addEventListener('queue', function (e) { failures = 0; apply(JSON.parse(e.data)); });
    source.onerror = function () {
      failures += 1;
      if (source.readyState === 2 || failures >= 3) { source.close(); poll(); }
    };
    window.addEventListener('pagehide', function () { source.close(); });
  }

  function enhance(root) {
    all('form[data-builder]', root).forEach(builder);
    all('form[data-checkout]', root).forEach(checkout);
    all('[data-order]', root).forEach(orderStatus);
    saleWindows(root);
    localTimes(root);
  }

  enhance(document);
  liveStock();
  all('[data-line]').forEach(waitingLine);
})();
