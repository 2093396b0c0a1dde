// Marks the words of a full-text search in a text. The server matches stems
// ("chairs" finds "chair"), so a word is marked when it starts with a query word's stem.
const SUFFIXES = /(ing|ed|es|s)$/;

function stems(search: string): string[] {
  return search
    .toLowerCase()
    .replace(/["()]/g, " ")
    .split(/\s+/)
    .filter((word) => word && word !== "or" && !word.startsWith("-"))
    .map((word) => (word.length > 4 ? word.replace(SUFFIXES, "") : word));
}

export function Highlight({ text, search }: { text: string; search: string }) {
  const words = stems(search);
  if (!words.length) return <>{text}</>;
  const parts = text.split(/(\p{L}[\p{L}\p{N}]*)/u);
  return (
    <>
      {parts.map((part, index) =>
        words.some((stem) => part.toLowerCase().startsWith(stem)) ? (
          <mark key={index}>{part}</mark>
        ) : (
          part
        ),
      )}
    </>
  );
}
