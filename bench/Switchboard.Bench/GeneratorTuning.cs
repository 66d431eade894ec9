namespace Switchboard.Bench;

/// <summary>Runtime settings the load generator gives itself (and never passes on to a server under test).</summary>
internal static class GeneratorTuning
{
    /// <summary>
    /// .NET runs socket completions on its epoll thread instead of the thread pool when this is 1:
    /// the generator's thousands of receive loops cost less CPU per message.
    /// </summary>
    public const string InlineSocketCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
}
