namespace Switchboard.FunctionalTests;

/// <summary>
/// Waits for a condition that becomes true through other processes (Redis, another node's
/// announcements): checks it every 50 ms until a deadline, then fails. The assertion is the
/// condition, never the time it took.
/// </summary>
internal static class Poll
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    public static async Task UntilAsync(Func<Task<bool>> condition, string? what = null)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            if (await condition())
            {
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"not reached within {Deadline.TotalSeconds} s: {what ?? "condition"}");
            }
            await Task.Delay(50);
        }
    }
}
