import { useShutdown, useView } from '../context.ts';
import { BannerView } from './BannerView.tsx';
import { Footer } from './Footer.tsx';
import { Header } from './Header.tsx';
import { Notices } from './Notices.tsx';
import { QuitPrompt } from './QuitPrompt.tsx';
import { Sections } from './Sections.tsx';
import { SettingsView } from './SettingsView.tsx';
import { ShutdownView } from './ShutdownView.tsx';
import { SignInPromptCard } from './SignInPrompt.tsx';

export function App() {
  const view = useView((s) => s.view);
  const shuttingDown = useShutdown((s) => s.requested || s.progress !== undefined);
  return (
    <div className="panel">
      <Header />
      <Notices />
      {shuttingDown ? (
        <ShutdownView />
      ) : (
        <>
          <BannerView />
          <QuitPrompt />
          <SignInPromptCard />
          {view === 'settings' ? <SettingsView /> : <Sections />}
          <Footer />
        </>
      )}
    </div>
  );
}
