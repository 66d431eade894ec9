using Spectre.Console;

namespace Switchboard.Bench;

/// <summary>Where the run tells what it is doing: a progress bar, or plain lines when not on a terminal.</summary>
internal interface IReporter
{
    void Log(string message);

    /// <summary>Sets the current activity (when not null) and advances the step count.</summary>
    void Advance(string? description, int steps);
}

internal sealed class LineReporter(string resultsDir) : IReporter
{
    private readonly string _logPath = Path.Combine(resultsDir, "bench.log");

    public void Log(string message)
    {
        var line = $"[{DateTime.UtcNow:HH:mm:ss}] {message}";
        AnsiConsole.WriteLine(line);
        File.AppendAllText(_logPath, line + Environment.NewLine);
    }

    public void Advance(string? description, int steps)
    {
        if (description is not null)
        {
            Log(description);
        }
    }
}

internal sealed class ProgressReporter(ProgressTask task, string resultsDir) : IReporter
{
    private readonly string _logPath = Path.Combine(resultsDir, "bench.log");

    public void Log(string message) =>
        File.AppendAllText(_logPath, $"[{DateTime.UtcNow:HH:mm:ss}] {message}{Environment.NewLine}");

    public void Advance(string? description, int steps)
    {
        if (description is not null)
        {
            task.Description = Markup.Escape(description);
            Log(description);
        }
        task.Increment(steps);
    }
}

/// <summary>Forwards to the reporter of the moment (the progress display exists only while it runs).</summary>
internal sealed class ForwardingReporter(Func<IReporter?> current) : IReporter
{
    public void Log(string message) => current()?.Log(message);

    public void Advance(string? description, int steps) => current()?.Advance(description, steps);
}
