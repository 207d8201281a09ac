// Select-all for bulk actions: a checkbox with data-select-all="NAME" ticks or clears every
// checkbox named NAME in its form (the rows of the page shown), and shows how many are ticked
// in the element whose id is its data-count attribute.
(function () {
  function boxes(master) {
    var form = master.form || document;
    return form.querySelectorAll('input[type=checkbox][name="' + master.getAttribute("data-select-all") + '"]');
  }
  function update(master) {
    var all = boxes(master), ticked = 0;
    for (var i = 0; i < all.length; i++) { if (all[i].checked) { ticked++; } }
    master.checked = all.length > 0 && ticked === all.length;
    master.indeterminate = ticked > 0 && ticked < all.length;
    var count = document.getElementById(master.getAttribute("data-count"));
    if (count) { count.textContent = String(ticked); }
  }
  document.addEventListener("change", function (event) {
    var t = event.target, masters = document.querySelectorAll("input[data-select-all]");
    for (var i = 0; i < masters.length; i++) {
      var m = masters[i];
      if (t === m) {
        var all = boxes(m);
        for (var j = 0; j < all.length; j++) { all[j].checked = m.checked; }
      }
      update(m);
    }
  });
})();
