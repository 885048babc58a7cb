/** On the lead page: take this lead out of one flow, after a confirmation. */
import { useState } from "react";
import { api } from "../api";
import { Confirm } from "./Confirm";

export function ExitFromFlow({ leadId, leadName, flowId, onDone }: {
  leadId: string;
  leadName: string;
  flowId: string;
  onDone: () => void;
}) {
  const [asking, setAsking] = useState(false);
  return (
    <>
      <button type="button" className="small" onClick={() => setAsking(true)} data-testid={`exit-${flowId}`}>Take out</button>
      {asking && (
        <Confirm title={`Take ${leadName} out of ${flowId}?`} action="Take out of the flow" danger testId="confirm-exit"
          onClose={() => setAsking(false)}
          onConfirm={async () => {
            await api(`/leads/${encodeURIComponent(leadId)}/flows/${encodeURIComponent(flowId)}/exit`, { method: "POST" });
            onDone();
          }}>
          <p>This one lead leaves the flow now, wherever it is (also while sales holds it), and gets no more of its mails.
            Its other flows go on.</p>
        </Confirm>
      )}
    </>
  );
}
