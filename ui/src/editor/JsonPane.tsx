/** The JSON tab: the flow document as text, kept in step with the canvas both ways. */
import { useEffect, useRef, useState, type ChangeEvent } from "react";
import { isObject, type FlowDoc } from "../graph";

export function JsonPane({ doc, onChange }: { doc: FlowDoc; onChange: (doc: FlowDoc, key?: string) => void }) {
  const serialised = JSON.stringify(doc, null, 2);
  const [text, setText] = useState(serialised);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  // Follow canvas edits, but never clobber what the user is typing when it means the same.
  useEffect(() => {
    setText((current) => {
      try {
        if (JSON.stringify(JSON.parse(current), null, 2) === serialised) return current;
      } catch {
        /* unparseable text: a canvas edit wins */
      }
      setError(null);
      return serialised;
    });
  }, [serialised]);

  const apply = (next: string, key = "json") => {
    setText(next);
    try {
      const parsed: unknown = JSON.parse(next);
      if (!isObject(parsed)) {
        setError("A flow is a JSON object ({ … }).");
        return;
      }
      setError(null);
      onChange(parsed as FlowDoc, key);
    } catch (err) {
      setError(`Not valid JSON: ${(err as Error).message}`);
    }
  };

  const importFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = "";
    if (!file) return;
    try {
      const parsed: unknown = JSON.parse(await file.text());
      if (!isObject(parsed)) throw new Error("A flow is a JSON object ({ … }).");
      // This draft belongs to this flow id; a file of another flow is imported into it.
      if (parsed.id !== doc.id) setNotice(`Imported "${file.name}" into this flow (id kept as ${String(doc.id)}).`);
      apply(JSON.stringify({ ...parsed, id: doc.id }, null, 2), `import-${Date.now()}`);
    } catch (err) {
      setError(`Cannot import ${file.name}: ${(err as Error).message}`);
    }
  };

  const download = () => {
    const url = URL.createObjectURL(new Blob([serialised + "\n"], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${typeof doc.id === "string" ? doc.id : "flow"}.json`;
    a.click();
    URL.revokeObjectURL(url);
  };

  return (
    <section className="panel json-pane" aria-label="Flow JSON">
      <div className="row">
        <button type="button" onClick={() => fileInput.current?.click()}>Import file…</button>
        <input ref={fileInput} type="file" accept="application/json,.json" hidden aria-label="Import a flow file" onChange={importFile} />
        <button type="button" onClick={download}>Download</button>
      </div>
      <label htmlFor="flow-json">Flow document (flow-format JSON; layout positions are kept apart)</label>
      <textarea id="flow-json" data-testid="flow-json" className="code" spellCheck={false} value={text}
        aria-invalid={error ? true : undefined} onChange={(e) => apply(e.target.value)} />
      {notice && <p className="notice" role="status">{notice}</p>}
      {error && <p className="field-problem" role="alert" data-testid="json-error">{error}</p>}
    </section>
  );
}
