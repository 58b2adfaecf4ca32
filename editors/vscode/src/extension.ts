/**
 * Chatvim for VS Code: hosts the chatvim-ls language server for markdown files.
 *
 * Rules:
 * - The server is `chatvim.serverPath` if set, else `chatvim-ls` on the PATH,
 *   else `python -m chatvim_ls` with the interpreter the Python extension
 *   picked (when it has chatvim_ls). Found nowhere: one error saying what to set.
 * - It serves markdown files, saved (`file`) and not yet saved (`untitled`).
 * - The commands are the server's own (`chatvim.complete`, …): the language
 *   client registers them when the server starts, so code actions and code
 *   lenses run them with their own arguments. Run from the palette they come
 *   with none; the middleware then adds the active editor's: `[uri]`, and
 *   `[uri, line]` for fork, `[{uri, range}]` for new with a selection.
 *   Nothing of ours is registered under those ids (it would clash).
 * - Settings: the `chatvim` section goes to the server as it is, in
 *   `initializationOptions` and on every change; the server ignores
 *   `serverPath`, which is read only when the server starts.
 * - Progress: the server's `$/progress` drives one status bar item (the answer's
 *   state; click to stop it), in place of the client's own window progress,
 *   which cannot be clicked. The last answer's end message stays a few seconds.
 * - No keybindings.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ProgressToken,
  ServerOptions,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressEnd,
  WorkDoneProgressReport,
} from "vscode-languageclient/node";

const SECTION = "chatvim";
const END_SHOWN_MS = 5000;

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const server = await findServer();
  if (typeof server === "string") {
    void vscode.window.showErrorMessage(server, "Open Settings").then((choice) => {
      if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", `${SECTION}.serverPath`);
    });
    return;
  }
  const status = new ProgressStatus(() => client);
  context.subscriptions.push(status);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "markdown" },
      { scheme: "untitled", language: "markdown" },
    ],
    initializationOptions: settings(),
    synchronize: { configurationSection: SECTION },
    middleware: {
      executeCommand: (command, args, next) => {
        const filled = args.length > 0 ? args : defaultArguments(command);
        if (filled === undefined) {
          void vscode.window.showErrorMessage(`${command}: open a chat in the editor first`);
          return undefined;
        }
        return next(command, filled);
      },
      handleWorkDoneProgress: (token, params) => status.update(token, params),
    },
  };
  client = new LanguageClient("chatvim", "Chatvim", server, clientOptions);
  context.subscriptions.push(client);
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}

/** The `chatvim` settings as plain JSON (unset ones are null, which the server skips). */
function settings(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(vscode.workspace.getConfiguration(SECTION)));
}

/** The arguments a command gets from the palette: the active editor's (undefined: there is none). */
function defaultArguments(command: string): unknown[] | undefined {
  const editor = vscode.window.activeTextEditor;
  const uri = editor?.document.uri.toString();
  switch (command) {
    case "chatvim.new":
      return editor && !editor.selection.isEmpty ? [{ uri, range: lspRange(editor.selection) }] : [];
    case "chatvim.stop":
      return uri ? [uri] : []; // [] stops every answer
    case "chatvim.fork":
      return editor ? [uri, editor.selection.active.line] : undefined;
    default:
      return uri ? [uri] : undefined;
  }
}

function lspRange(range: vscode.Range): object {
  const position = (p: vscode.Position) => ({ line: p.line, character: p.character });
  return { start: position(range.start), end: position(range.end) };
}

/** How to start the server, or the error message to show. */
async function findServer(): Promise<ServerOptions | string> {
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>("serverPath")?.trim();
  if (configured) {
    const command = configured.startsWith("~") ? path.join(os.homedir(), configured.slice(1)) : configured;
    return isExecutable(command) ? { command } : `chatvim.serverPath: ${command} is not an executable file; fix the setting`;
  }
  const onPath = which("chatvim-ls");
  if (onPath) return { command: onPath };
  const python = await pythonWithChatvim();
  if (python) return { command: python, args: ["-m", "chatvim_ls"] };
  return "chatvim-ls not found on the PATH: install it (pipx install . in a clone) or set chatvim.serverPath";
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, process.platform === "win32" ? `${name}.exe` : name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The Python extension's interpreter for this workspace, if chatvim_ls is installed in it. */
async function pythonWithChatvim(): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension("ms-python.python");
  if (!extension) return undefined;
  try {
    const api = await extension.activate();
    const environments = api?.environments;
    const chosen = environments?.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    const resolved = chosen && (await environments.resolveEnvironment(chosen));
    const python: string | undefined = resolved?.executable?.uri?.fsPath;
    if (!python) return undefined;
    const { spawnSync } = await import("child_process");
    const probe = spawnSync(python, ["-c", "import chatvim_ls"], { timeout: 10000 });
    return probe.status === 0 ? python : undefined;
  } catch {
    return undefined;
  }
}

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

/** One status bar item for every answer streaming: the latest message; a click stops it. */
class ProgressStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("chatvim.progress", vscode.StatusBarAlignment.Left, 100);
  private readonly running = new Map<ProgressToken, string>();
  private hideTimer: NodeJS.Timeout | undefined;
  private readonly stopCommand: vscode.Disposable;

  constructor(getClient: () => LanguageClient | undefined) {
    this.item.name = "Chatvim";
    // Not a contributed command: it cancels the progress of the newest answer, which stops it.
    this.stopCommand = vscode.commands.registerCommand("chatvim-ls.cancelProgress", () => {
      const token = [...this.running.keys()].pop();
      if (token !== undefined) void getClient()?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    });
  }

  update(token: ProgressToken, params: Progress): void {
    clearTimeout(this.hideTimer);
    if (params.kind === "end") {
      this.running.delete(token);
      if (this.running.size === 0) {
        this.show(`$(check) Chatvim${params.message ? `: ${params.message}` : ""}`, undefined);
        this.hideTimer = setTimeout(() => this.item.hide(), END_SHOWN_MS);
        return;
      }
    } else {
      this.running.set(token, params.message ?? this.running.get(token) ?? "");
    }
    const message = [...this.running.values()].pop();
    const more = this.running.size > 1 ? ` (+${this.running.size - 1})` : "";
    this.show(`$(sync~spin) Chatvim${message ? `: ${message}` : ""}${more}`, "chatvim-ls.cancelProgress");
  }

  private show(text: string, command: string | undefined): void {
    this.item.text = text;
    this.item.command = command;
    this.item.tooltip = command ? "Chatvim: click to stop the answer" : undefined;
    this.item.show();
  }

  dispose(): void {
    clearTimeout(this.hideTimer);
    this.stopCommand.dispose();
    this.item.dispose();
  }
}
