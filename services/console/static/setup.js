// The game form: the odds of winning something, summed as they are typed, and said when under the
// minimum. Points checks them again when the game is saved (and says why it refuses, by the field).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const out = document.getElementById("win-odds");
  if (!out) return;
  const low = document.getElementById("odds-low");
  const odds = () => document.querySelectorAll('input[name^="prizes."][name$=".odds"]');
  const persian = "۰۱۲۳۴۵۶۷۸۹";
  const arabic = "٠١٢٣٤٥٦٧٨٩";
  const ascii = (s) => s.replace(/[۰-۹]/g, (d) => persian.indexOf(d)).replace(/[٠-٩]/g, (d) => arabic.indexOf(d)).replace("٫", ".");
  const update = () => {
    let sum = 0;
    for (const input of odds()) {
      const value = parseFloat(ascii(input.value.trim()));
      if (!Number.isNaN(value)) sum += value;
    }
    const percent = `${Math.round(sum * 10000) / 100}%`;
    out.textContent = document.documentElement.lang === "fa"
      ? percent.replace(/\d/g, (d) => persian[d]).replace(".", "٫") : percent;
    const under = sum < parseFloat(out.dataset.min);
    out.classList.toggle("low", under);
    low.hidden = !under;
  };
  for (const input of odds()) input.addEventListener("input", update);
  update();
});
