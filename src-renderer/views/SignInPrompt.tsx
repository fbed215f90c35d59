import { useEngine } from '../context.ts';
import { formatClock } from '../format.ts';

/** The sign-in the engine is waiting for: the page to open and, for the device-code flow, the code in large type. */
export function SignInPromptCard() {
  const prompt = useEngine((s) => s.signInPrompt);
  if (!prompt) return null;
  return (
    <section className="sign-in" aria-labelledby="sign-in-title" data-testid="sign-in-prompt">
      <h2 id="sign-in-title">Sign in to OneDrive</h2>
      {prompt.userCode ? (
        <>
          <p>
            On any device, open{' '}
            <a href={prompt.url} target="_blank" rel="noreferrer noopener">
              {prompt.url}
            </a>{' '}
            and enter
          </p>
          <p className="user-code" aria-label={`the code ${prompt.userCode.split('').join(' ')}`}>
            {prompt.userCode}
          </p>
        </>
      ) : (
        <p>
          Finish signing in on the{' '}
          <a href={prompt.url} target="_blank" rel="noreferrer noopener">
            identity provider’s page
          </a>
          ; this panel updates by itself.
        </p>
      )}
      {prompt.expiresAt !== undefined && <p className="muted">The code works until {formatClock(prompt.expiresAt)}.</p>}
    </section>
  );
}
