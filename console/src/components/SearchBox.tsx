// Product search with autocomplete: debounced, over the full-text `search` filter,
// as an ARIA combobox (arrows move, Enter picks, Escape closes).
import { useEffect, useId, useRef, useState } from "react";
import { gql } from "../api";
import { Highlight } from "./Highlight";

const SUGGEST = `
  query Suggest($search: String!) {
    products(first: 8, filter: { search: $search }) {
      edges { node { id sku name price } }
    }
  }`;

const DEBOUNCE_MS = 250;

interface Suggestion {
  id: string;
  sku: string;
  name: string;
  price: string;
}

interface Props {
  value: string;
  onSearch: (value: string) => void;
  onPick: (product: Suggestion) => void;
}

export function SearchBox({ value, onSearch, onPick }: Props) {
  const [text, setText] = useState(value);
  const [items, setItems] = useState<Suggestion[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const asked = useRef(0);
  const id = useId();

  useEffect(() => setText(value), [value]);

  useEffect(() => {
    const words = text.trim();
    if (words.length < 2) {
      setItems([]);
      return;
    }
    const ask = ++asked.current;
    const timer = setTimeout(async () => {
      try {
        const data = await gql(SUGGEST, { search: words });
        // An answer to an older keystroke is dropped.
        if (ask !== asked.current) return;
        setItems(data.products.edges.map((edge: { node: Suggestion }) => edge.node));
        setActive(-1);
      } catch {
        if (ask === asked.current) setItems([]);
      }
    }, DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [text]);

  const showing = open && items.length > 0 && text.trim().length >= 2;
  const pick = (item: Suggestion) => {
    setOpen(false);
    onPick(item);
  };

  return (
    <div className="search">
      <label htmlFor={`${id}-input`}>Search products</label>
      <input
        id={`${id}-input`}
        type="search"
        role="combobox"
        aria-expanded={showing}
        aria-controls={`${id}-list`}
        aria-autocomplete="list"
        aria-activedescendant={showing && active >= 0 ? `${id}-${active}` : undefined}
        autoComplete="off"
        placeholder='words, "a phrase", -not'
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(event) => {
          if (event.key === "ArrowDown" && items.length) {
            event.preventDefault();
            setOpen(true);
            setActive((index) => (index + 1) % items.length);
          } else if (event.key === "ArrowUp" && items.length) {
            event.preventDefault();
            setActive((index) => (index <= 0 ? items.length - 1 : index - 1));
          } else if (event.key === "Escape") {
            setOpen(false);
          } else if (event.key === "Enter") {
            event.preventDefault();
            if (showing && active >= 0) pick(items[active]);
            else {
              setOpen(false);
              onSearch(text.trim());
            }
          }
        }}
      />
      <button type="button" onClick={() => onSearch(text.trim())}>
        Search
      </button>
      <ul id={`${id}-list`} role="listbox" className="suggestions" hidden={!showing} aria-label="Suggestions">
        {items.map((item, index) => (
          <li
            key={item.id}
            id={`${id}-${index}`}
            role="option"
            aria-selected={index === active}
            className={index === active ? "active" : ""}
            onMouseDown={(event) => {
              event.preventDefault();
              pick(item);
            }}
          >
            <span className="sku">{item.sku}</span> <Highlight text={item.name} search={text} />{" "}
            <span className="price">{item.price}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
